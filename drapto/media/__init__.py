"""Media files and the machine that reads them: FFmpeg runs and their memory, the
typed records of what a file holds, timelines, tracks, HDR metadata in bitstreams."""
