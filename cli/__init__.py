"""``xiaoer``: the operators' command line. It only dispatches to each service's own modules; each
module here holds one group of commands beside its parser (``register``), and ``cli.main`` puts
them together.

xiaoer run                      the whole system on embedded defaults (what `make run` calls)
xiaoer migrate [SERVICE ...]    apply each service's database migrations
xiaoer seed [--file FILE]       load department units and routing rules (demo data by default)
xiaoer serve|api|worker SERVICE one service: HTTP and workers, HTTP only, or workers only
xiaoer serve web                the pages (enterprise H5, clerk workbench, supervisor board)
xiaoer user add --role ROLE ... a staff account for the pages (clerk, coordinator, supervisor, admin)
xiaoer user demo                development only: the pages' demo staff accounts
xiaoer token --role ROLE ...    mint a JWT with the configured signing key
xiaoer sla due --from T ...     a deadline, computed by the notifier's own code
xiaoer units credentials UNIT   a department system's signing key and onboarding sheet
xiaoer calendar load FILE       load a year's official holidays and make-up days
xiaoer schemas [--check]        write (or check) docs/schemas/*.json and docs/asyncapi.yaml
xiaoer dlq list|show|replay     dead letters: list them, show one, send chosen ones back
xiaoer outbox republish ...     have a service's relay publish a time range of its outbox again

``python -m cli`` is ``xiaoer`` too (what ``xiaoer run`` and ``serve`` start their children with).
"""
