"""Browser mode: `charrnn-tui serve` (command.py) runs the web server (server.py), which
starts one app per browser tab in served mode (charrnn_tui/confine.py)."""
