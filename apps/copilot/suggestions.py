"""The suggestion chips (seed 004: 8 categories and tips); every regular chip is a question the matcher answers
(tests/copilot check that), a `template` chip waits for the user to finish the name."""
from __future__ import annotations


def _chip(label: str, question: str | None = None, template: bool = False) -> dict:
    chip = {"label": label, "question": question or label}
    if template:
        chip["template"] = True
    return chip


CATEGORIES = [
    {"name": "Infrastructure", "icon": "🖥️", "chips": [
        _chip("How many VMs?"), _chip("List all hosts"), _chip("How many volumes?"), _chip("List networks")]},
    {"name": "VM Power State", "icon": "⚡", "chips": [
        _chip("Powered on VMs", "How many powered on VMs?"), _chip("Powered off VMs", "Show powered off VMs"),
        _chip("VMs in error", "Which VMs are in error?")]},
    {"name": "Tenant / Project", "icon": "📁", "chips": [
        _chip("VMs on tenant …", "VMs on tenant ", True), _chip("Quota for …", "Quota of tenant ", True),
        _chip("Usage for …", "Usage for tenant ", True), _chip("Quota & Usage …", "Quota and usage for tenant ", True),
        _chip("VMs per tenant", "How many VMs per tenant?"), _chip("List tenants")]},
    {"name": "Hosts & Capacity", "icon": "📊", "chips": [
        _chip("Busiest hosts", "Which hosts are busiest?"), _chip("VMs on host …", "VMs on host ", True),
        _chip("Storage pools", "Show storage pools"), _chip("Storage capacity"),
        _chip("Largest VMs", "Which VMs are the largest?")]},
    {"name": "Storage", "icon": "💾", "chips": [
        _chip("Volumes not attached", "Which volumes are not attached?"),
        _chip("Volumes without snapshots", "Volumes without snapshots"),
        _chip("Snapshots older than 7 days", "Snapshots older than 7 days"), _chip("How many snapshots?")]},
    {"name": "Networking & Security", "icon": "🌐", "chips": [
        _chip("Public IPs", "List floating IPs"), _chip("Security groups", "List security groups")]},
    {"name": "Changes & Drift", "icon": "🔍", "chips": [
        _chip("Changes today", "What changed today?"), _chip("Drift events", "Show drift events"),
        _chip("Data freshness", "When was the data last collected?")]},
    {"name": "Migrations", "icon": "🚚", "chips": [
        _chip("Replicating VMs", "How many VMs are replicating?"),
        _chip("Failed failovers today", "Which failovers failed today?"),
        _chip("Failed replications", "Which replications failed?"), _chip("Migration status", "Migration VMs"),
        _chip("Ready for failover", "Which VMs are ready for failover?")]},
]

TIPS = [
    "Ask naturally: \"How many powered on VMs on tenant <your-tenant>?\"",
    "Scope by tenant: add \"on tenant <name>\" or \"for project <name>\"",
    "Scope by host: add \"on host <hostname>\"",
    "Use action words: show, list, count, how many",
    "Click any chip to run it instantly — chips with \"…\" need a name",
]


def suggestions() -> dict:
    return {"suggestions": {"categories": CATEGORIES, "tips": TIPS}}
