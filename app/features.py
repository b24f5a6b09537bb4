"""The installed features, in the order their menus and migrations should appear."""

from __future__ import annotations

from app.core.features import Feature


def installed_features() -> list[Feature]:
    from app import audit, auth, documents, notifications, org, portal, statistics, workflow

    return [org.feature, audit.feature, auth.feature, portal.feature, workflow.feature,
            documents.feature, notifications.feature, statistics.feature]
