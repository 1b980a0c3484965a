"""The app's tabs, one package each: a pane and the widgets only it uses."""
