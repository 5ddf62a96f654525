"""A run of the workbook: the load-or-compute steps the notebooks call, the labelling
session and its reviews, labels.csv, exporting, and running the notebooks headless."""
