"""Multi-task PK NER model: shared encoder, four heads, loss weighting, save/load."""
