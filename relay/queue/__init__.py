"""The queue: its folders, every legal move between them, each message's attempt history and
badmail record. A message's state is the folder it sits in."""
