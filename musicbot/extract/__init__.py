"""The yt-dlp protocol layer: options, info-dict parsing and error classification.

Only this package and the extractor actor know yt-dlp's dict shapes and exception types.
"""
