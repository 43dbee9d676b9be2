"""Transitional, until every caller imports ``cli.kafka_acls`` (issue 24): delete this file then."""

from cli.kafka_acls import OPS_USER, Grant, acl_script, allowed, service_grants, service_user

__all__ = ["OPS_USER", "Grant", "acl_script", "allowed", "service_grants", "service_user"]
