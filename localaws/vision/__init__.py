"""The emulator's vision engine: decoding and sampling frames, the face detector, the second check that
a face is human, and the attribute estimators. It knows pixels, not the service's wire format."""
