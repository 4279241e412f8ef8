//! Argument checks shared by every SQL entry point, with messages that name the argument.

use crate::{CragError, Result};

/// Check that `values` (the SQL argument `arg`) has `expected` finite elements for `model`.
pub fn finite_vector(arg: &str, values: &[f32], expected: usize, model: &str) -> Result<()> {
    if values.len() != expected {
        let plural = if values.len() == 1 { "" } else { "s" };
        return Err(CragError::invalid(format!(
            "{arg} has {} element{plural}, but model \"{model}\" expects {expected}",
            values.len()
        )));
    }
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(CragError::invalid(format!(
            "{arg}[{}] is {v}; CRAG needs finite values",
            i + 1
        )));
    }
    Ok(())
}

/// Check a `top-k` request.
pub fn positive_k(k: i32) -> Result<usize> {
    if k <= 0 {
        return Err(CragError::invalid(format!("k must be positive, got {k}")));
    }
    Ok(k as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_argument_sizes_and_position() {
        let e = finite_vector("drug_vec", &[1.0, 2.0], 3, "dti")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "drug_vec has 2 elements, but model \"dti\" expects 3");
        let e = finite_vector("prot_vec", &[1.0, f32::NAN], 2, "dti")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "prot_vec[2] is NaN; CRAG needs finite values");
        let e = finite_vector("prot_vec", &[f32::INFINITY], 1, "dti")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "prot_vec[1] is inf; CRAG needs finite values");
        assert!(finite_vector("x", &[0.0; 4], 4, "m").is_ok());
        let e = finite_vector("x", &[0.0], 4, "m").unwrap_err().to_string();
        assert_eq!(e, "x has 1 element, but model \"m\" expects 4");
        assert_eq!(positive_k(3).unwrap(), 3);
        assert_eq!(
            positive_k(0).unwrap_err().to_string(),
            "k must be positive, got 0"
        );
    }
}
