//! Results out: the table, CSV logs, progress lines, pictures.
