"""Metering's vocabularies (declared as words, see ``apps.core.choices.vocabulary``)."""
from apps.core.choices import vocabulary

PricingCategory = vocabulary("PricingCategory", "flavor storage_gb snapshot_gb restore volume network custom")
Classification = vocabulary("Classification", "excellent good fair poor idle")
