"""People in a video: hard cuts found from the video (``shots``), a face embedding computed on an
appearance's best frames (``embedding``), and appearances grouped into people (``grouping``)."""
