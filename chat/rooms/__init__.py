"""Rooms: who may read and write (access), joining and leaving (joining), managing them (manage),
the directory (directory), and their socket events (events)."""
