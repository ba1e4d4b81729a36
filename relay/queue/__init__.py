"""The queue: its folders, every legal move between them, each message's attempt history and
badmail record; and the notes the relay processes sharing it leave there (pid files, activity,
free space). A message's state is the folder it sits in."""
