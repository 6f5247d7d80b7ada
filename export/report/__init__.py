"""What a run reports: report.json/.md/.png, the deployment recommendation."""
