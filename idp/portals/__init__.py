"""The portal (client) registry: every service portal registered with the provider.

A leaf of the application: the protocol (idp.oauth), consent (idp.consent) and citizen
pages (idp.citizens) all look portals up here; the registry itself knows none of them.
"""
