//! Pharmacovigilance disproportionality statistics (placeholder, being written).
