"""ser-live: real-time speech emotion recognition from a microphone.

The public namespace re-exports the pieces a user scripts with; each lives in its own module.
"""

__version__ = "0.1.0"
