"""Care records: assessments, care plans and tasks, guidance from sensor data, observations, reports."""
