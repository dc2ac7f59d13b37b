"""Pictures of the trial, drawn from data the services read (pure: no database here)."""
