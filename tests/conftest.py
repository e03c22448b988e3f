"""pytest setup for tests/.

The shared helper modules hold assertions of their own (``binding_helpers.refuses``): have pytest
rewrite them as it does the test modules, so that a failure there shows the values compared.
"""

import pytest

pytest.register_assert_rewrite("binding_helpers", "reference_helpers")
