"""Qt widgets: they show what the models and the bridge give them."""
