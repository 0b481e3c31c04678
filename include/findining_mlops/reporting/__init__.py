"""What people read about the pipeline: the state page, the tables and plots the report views share."""
