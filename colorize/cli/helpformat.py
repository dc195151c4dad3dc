"""The --help layout of every command line: defaults shown where they say something.

argparse's ArgumentDefaultsHelpFormatter appends "(default: X)" to every
option, which reads wrong for switches ("--no-mirror ... (default: True)")
and says nothing for options whose default is computed at run time
(None). This formatter shows the default only for options that take a value
and have a concrete one.
"""

import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action):
        if action.default in (None, False, True, argparse.SUPPRESS) or action.nargs == 0:
            return action.help
        return super()._get_help_string(action)
