"""The running relay: lifecycle and dispatch, workers, the pickup watcher, the supervisor, pid
files, metrics, disk space and the thread that talks to the site's dashboard."""
