"""The running relay: lifecycle, dispatch, workers, the pickup watcher, the supervisor, metrics
and the thread that talks to the site's dashboard."""
