"""The requirement catalog as data, how a tier becomes a verdict, and the scope of a verdict."""
