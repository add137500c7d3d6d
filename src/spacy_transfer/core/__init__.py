"""What the commands do. ``core`` never imports ``cli``."""
