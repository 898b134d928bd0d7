"""What leaves the grader: report formats, signed results, the gradebook, the GitHub API."""
