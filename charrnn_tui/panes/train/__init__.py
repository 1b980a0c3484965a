"""The Train tab: settings, the live loss chart and the training thread."""
