"""vh.training: dataset readers, the dancing-video builder, losses and training loops."""
