"""Live widgets: the lens widget, its sides and runs, the study widget."""
