"""Aggregation methods (estimators). Import them from :mod:`crowdagg`."""
