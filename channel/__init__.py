"""The files the site and the relay exchange besides pickup, in one home both import.

status.py: <admin_dir>/status.json (the relay writes, the site reads); moves.py: move
requests (the site writes) and their results (the relay writes); feedback.py: the
feedback file's lines (the relay appends, the site reads); files.py: replacing a small
file whole, the one way every one of them is written; jsondoc.py: reading one back, the
one json.loads, which a bad document cannot make raise anything but ValueError. Imports neither `relay` nor
`webapp`: each side imports this and nothing of the other.
"""
