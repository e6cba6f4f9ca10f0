"""The HTML report and the face thumbnails it shows."""
