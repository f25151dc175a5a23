"""Players (how an input splits into features) and masking (how absent features are hidden)."""
