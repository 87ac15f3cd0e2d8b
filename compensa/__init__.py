"""compensa: a rule-based expert system for musculoskeletal compensation chains.

The package is split by role: ``compensa.kb`` (knowledge base), ``compensa.facts`` (working-memory
fact types), ``compensa.engine`` (inference), ``compensa.visualize`` (explanations and graphs) and
``compensa.app`` (command line and HTTP service). This module imports none of them.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
