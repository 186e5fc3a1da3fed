"""Command-line interfaces: ``magicstomp`` (patches, SysEx, MIDI, render) and ``auto_match_hil``.

Commands are thin: they parse options, call one library function, and turn
toolkit errors (``magicstomp.errors.MagicstompError``) into one line on stderr
with exit code 1 (usage errors: 2). ``--verbose`` shows the traceback.
"""
