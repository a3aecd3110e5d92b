"""Media: aiortc peers, the selective-forwarding relay, keyframe handling and the consent-gated recorder.

Filled in by the video-consult and recording issues. Media workers forward encoded frames without
decoding; the recorder writes the same encoded frames into encrypted segments of the blob store
(`storage/blobstore.py`) while `consult/` says every present participant has consented.
"""
