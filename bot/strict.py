"""A pydantic base for every rules file: frozen, no unknown keys, typos answered helpfully.

pydantic's own message for an unknown key is "Extra inputs are not permitted"; a study team
editing YAML needs the keys that *are* allowed, and the closest one to what they typed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from bot.errors import closest


def _template(text: str) -> str:
    # PydanticCustomError formats {name} placeholders; a rendered message has none left.
    return text.replace("{", "(").replace("}", ")")


def custom_error(kind: str, message: str, loc: tuple[Any, ...], given: Any) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError(kind, _template(message)), loc=loc, input=given
    )


def raise_errors(title: str, errors: list[InitErrorDetails]) -> None:
    if errors:
        raise ValidationError.from_exception_data(title, errors)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @model_validator(mode="wrap")
    @classmethod
    def _name_the_allowed_keys(cls, data: Any, handler: Any) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            errors = exc.errors()
            if not any(e["type"] == "extra_forbidden" and len(e["loc"]) == 1 for e in errors):
                raise
            keys = [field.alias or name for name, field in cls.model_fields.items()]
            rebuilt = []
            for error in errors:
                if error["type"] == "extra_forbidden" and len(error["loc"]) == 1:
                    key = str(error["loc"][0])
                    message = "unknown key"
                    guess = closest(key, keys)
                    if guess:
                        message += f" — did you mean {guess!r}?"
                    message += f" (allowed: {', '.join(keys)})"
                    rebuilt.append(
                        custom_error("unknown_key", message, error["loc"], error.get("input"))
                    )
                else:
                    rebuilt.append(
                        custom_error(error["type"], error["msg"], error["loc"], error.get("input"))
                    )
            raise ValidationError.from_exception_data(cls.__name__, rebuilt) from None
