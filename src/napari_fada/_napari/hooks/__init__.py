"""npe2 hooks: the reader and the sample data, and the image a layer they made shows."""
