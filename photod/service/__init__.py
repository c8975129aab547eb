"""Running photod as a service: the daemon loop and systemd integration."""
