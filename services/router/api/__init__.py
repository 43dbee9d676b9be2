"""router's HTTP endpoints under ``/v1``, one module per resource, each an ``APIRouter`` that
``main.py`` includes: ``workitems`` (department queues, one item, its files and moves),
``comments`` (内部批注 on an item), ``extensions`` (supervisors' decisions),
``routing`` (previews and the versioned rules),
``departments`` (the registry: units and the coverage of regions) and ``credit_coverage`` (信用代证 versions)."""
