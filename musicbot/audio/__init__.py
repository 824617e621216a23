"""Audio: ffmpeg sources, the Ogg Opus demuxer and the paced player."""
