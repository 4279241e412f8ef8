//! Curated vocabularies and relation facts for the synthetic note generator ([`super::synth`]).
//!
//! Each concept is a list of surface forms, the canonical one first (abbreviations and synonyms follow, e.g.
//! `["type 2 diabetes mellitus", "T2DM", "type 2 diabetes"]`). Relation facts name concepts by their canonical
//! form and are clinically plausible (textbook indications, manifestations, diagnostic tests, prophylaxis and
//! well-known adverse drug reactions), so that generated notes do not teach a model false medicine. Every fact
//! obeys [`RelationType::allows`] (checked by a test).

use super::schema::{EntityType, RelationType};

/// Concept forms: canonical first.
pub type Forms = &'static [&'static str];

/// Diseases.
pub const DISEASES: &[Forms] = &[
    &["type 2 diabetes mellitus", "T2DM", "type 2 diabetes"],
    &["hypertension", "HTN", "high blood pressure"],
    &["coronary artery disease", "CAD"],
    &["myocardial infarction", "MI", "NSTEMI"],
    &["congestive heart failure", "CHF", "heart failure", "HFrEF"],
    &["atrial fibrillation", "AF", "AFib"],
    &["ischemic stroke", "stroke", "CVA"],
    &["deep vein thrombosis", "DVT"],
    &["pulmonary embolism", "PE"],
    &["asthma"],
    &["chronic obstructive pulmonary disease", "COPD"],
    &["community-acquired pneumonia", "pneumonia", "CAP"],
    &["urinary tract infection", "UTI", "cystitis"],
    &["hypothyroidism"],
    &["gastroesophageal reflux disease", "GERD", "reflux disease"],
    &["peptic ulcer disease", "PUD", "gastric ulcer"],
    &["rheumatoid arthritis", "RA"],
    &[
        "Sjögren's syndrome",
        "Sjögren syndrome",
        "primary Sjögren's",
    ],
    &["systemic lupus erythematosus", "SLE", "lupus"],
    &["gout", "gouty arthritis"],
    &["epilepsy", "seizure disorder"],
    &["migraine", "migraine without aura"],
    &["major depressive disorder", "MDD", "depression"],
    &["chronic kidney disease", "CKD", "CKD stage 3b"],
    &["acute kidney injury", "AKI"],
    &["iron deficiency anemia", "iron-deficiency anaemia", "IDA"],
    &["anemia", "anaemia"],
    &["hyperlipidemia", "HLD", "dyslipidemia"],
    &["influenza", "influenza A", "flu"],
    &["cellulitis"],
    &["Crohn's disease", "Crohn disease"],
    &["Guillain–Barré syndrome", "Guillain-Barre syndrome", "GBS"],
    &["Ménière's disease", "Meniere disease"],
    &[
        "Stevens–Johnson syndrome",
        "Stevens-Johnson syndrome",
        "SJS",
    ],
    &["drug-induced liver injury", "hepatotoxicity", "DILI"],
    &["hypokalemia", "hypokalaemia"],
    &["hyperkalemia", "hyperkalaemia"],
    &["hyponatremia", "hyponatraemia"],
    &["hypoglycemia", "hypoglycaemia"],
    &["lactic acidosis"],
    &["rhabdomyolysis"],
    &["agranulocytosis"],
    &["angioedema"],
    &["osteoporosis"],
    &["hip fracture", "fragility fracture"],
    &["sepsis", "septic shock"],
    &["postherpetic neuralgia", "PHN"],
    &["gastrointestinal bleeding", "GI bleed", "upper GI bleeding"],
    &["acute pancreatitis", "pancreatitis"],
    &["colorectal cancer", "colon cancer"],
    &["Pneumocystis pneumonia", "PCP", "PJP"],
    &["Achilles tendon rupture", "tendon rupture"],
    &["heparin-induced thrombocytopenia", "HIT"],
    &["retinal toxicity", "hydroxychloroquine retinopathy"],
    &["hyperglycemia", "steroid-induced hyperglycemia"],
];

/// Symptoms and signs.
pub const SYMPTOMS: &[Forms] = &[
    &["chest pain", "substernal chest pain", "chest pressure"],
    &["shortness of breath", "SOB", "dyspnea", "dyspnoea"],
    &["fever", "fevers", "pyrexia"],
    &["cough", "productive cough"],
    &["dry cough", "nonproductive cough"],
    &["headache", "headaches"],
    &["nausea"],
    &["vomiting", "emesis"],
    &["fatigue", "tiredness"],
    &["dizziness", "lightheadedness"],
    &["palpitations"],
    &["syncope", "fainting"],
    &["peripheral edema", "bilateral leg edema", "ankle swelling"],
    &["wheezing"],
    &["abdominal pain", "epigastric pain"],
    &["diarrhea", "diarrhoea", "loose stools"],
    &["constipation"],
    &["dysuria", "burning on urination"],
    &["urinary frequency"],
    &["polyuria"],
    &["polydipsia", "excessive thirst"],
    &["weight loss", "unintentional weight loss"],
    &["joint pain", "arthralgia", "polyarthralgia"],
    &["morning stiffness"],
    &["dry mouth", "xerostomia"],
    &["dry eyes", "xerophthalmia"],
    &["malar rash", "butterfly rash"],
    &["rash", "maculopapular rash"],
    &["pruritus", "itching"],
    &["myalgia", "muscle aches", "muscle pain"],
    &["heartburn"],
    &["hemoptysis"],
    &["confusion", "altered mental status", "AMS"],
    &["tremor", "tremulousness"],
    &["insomnia", "difficulty sleeping"],
    &["vertigo"],
    &["tinnitus"],
    &["seizures", "generalized seizure"],
    &["photophobia"],
    &["numbness", "paresthesias"],
    &["ascending weakness", "weakness"],
    &["cold intolerance"],
    &["calf swelling", "unilateral leg swelling"],
    &["melena", "black stools"],
    &["easy bruising", "bruising"],
    &["hemiparesis", "left-sided weakness"],
    &["irritability"],
];

/// Drugs and drug classes.
pub const DRUGS: &[Forms] = &[
    &["metformin", "Glucophage"],
    &["insulin glargine", "Lantus", "basal insulin"],
    &["empagliflozin", "Jardiance"],
    &["lisinopril"],
    &["ACE inhibitor", "ACE-I"],
    &["amlodipine", "Norvasc"],
    &["metoprolol", "metoprolol succinate", "Toprol XL"],
    &["β-blocker", "beta-blocker", "beta blocker"],
    &["propranolol"],
    &["hydrochlorothiazide", "HCTZ"],
    &["furosemide", "Lasix"],
    &["spironolactone"],
    &["atorvastatin", "Lipitor"],
    &["simvastatin"],
    &["aspirin", "ASA", "acetylsalicylic acid"],
    &["clopidogrel", "Plavix"],
    &["warfarin", "Coumadin"],
    &["apixaban", "Eliquis"],
    &["heparin", "unfractionated heparin"],
    &["enoxaparin", "Lovenox"],
    &["levothyroxine", "Synthroid"],
    &["omeprazole"],
    &["pantoprazole", "Protonix"],
    &["albuterol", "salbutamol"],
    &["fluticasone–salmeterol", "fluticasone-salmeterol", "Advair"],
    &["prednisone"],
    &["methotrexate", "MTX"],
    &["hydroxychloroquine", "Plaquenil", "HCQ"],
    &["infliximab"],
    &["amoxicillin"],
    &["azithromycin", "Z-pak"],
    &["ciprofloxacin", "cipro"],
    &["trimethoprim–sulfamethoxazole", "TMP-SMX", "Bactrim"],
    &["vancomycin", "IV vancomycin"],
    &["ibuprofen", "Motrin"],
    &["acetaminophen", "paracetamol", "Tylenol"],
    &["morphine", "morphine sulfate"],
    &["gabapentin", "Neurontin"],
    &["sertraline", "Zoloft"],
    &["levetiracetam", "Keppra"],
    &["carbamazepine"],
    &["sumatriptan"],
    &["allopurinol"],
    &["colchicine"],
    &["oseltamivir", "Tamiflu"],
    &["ferrous sulfate", "oral iron"],
    &["alendronate", "Fosamax"],
    &["intravenous immunoglobulin", "IVIG"],
    &["meclizine"],
    &["clozapine"],
];

/// Procedures (diagnostic and therapeutic).
pub const PROCEDURES: &[Forms] = &[
    &["CT scan", "CT", "computed tomography"],
    &["CT pulmonary angiography", "CTPA"],
    &["MRI", "magnetic resonance imaging", "MRI brain"],
    &["chest X-ray", "CXR", "chest radiograph"],
    &["echocardiogram", "TTE", "transthoracic echocardiogram"],
    &["electrocardiogram", "ECG", "EKG"],
    &["cardiac catheterization", "left heart cath"],
    &["percutaneous coronary intervention", "PCI"],
    &["coronary artery bypass grafting", "CABG"],
    &["colonoscopy", "screening colonoscopy"],
    &["upper endoscopy", "EGD"],
    &["biopsy", "core needle biopsy"],
    &["lumbar puncture", "LP"],
    &["bronchoscopy"],
    &["spirometry", "PFTs", "pulmonary function testing"],
    &["hemodialysis", "dialysis"],
    &["appendectomy"],
    &["cholecystectomy", "laparoscopic cholecystectomy"],
    &["influenza vaccination", "flu shot", "influenza vaccine"],
    &["pneumococcal vaccination", "PCV20", "pneumococcal vaccine"],
    &["DEXA scan", "bone densitometry"],
    &["venous duplex ultrasound", "lower extremity Doppler"],
    &["EEG", "electroencephalogram"],
    &["renal ultrasound"],
    &["carotid endarterectomy", "CEA"],
    &["left atrial appendage occlusion", "Watchman implantation"],
    &["IVC filter placement", "inferior vena cava filter"],
    &["Schirmer's test", "Schirmer test"],
    &["salivary gland biopsy", "minor salivary gland biopsy"],
    &["physical therapy", "PT"],
];

/// How a lab result is written.
#[derive(Debug, Clone, Copy)]
pub enum LabValue {
    /// A number drawn uniformly from `[lo, hi]`, `decimals` places, then the unit (`%` is attached).
    Num {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
        /// Decimal places.
        decimals: usize,
        /// Unit ("mmol/L", "%").
        unit: &'static str,
    },
    /// One of a few qualitative results ("positive", "1:640").
    Qual(&'static [&'static str]),
}

/// A laboratory test and the (abnormal) results the generator writes for it.
#[derive(Debug, Clone, Copy)]
pub struct Lab {
    /// Surface forms, canonical first.
    pub forms: Forms,
    /// Result generator.
    pub value: LabValue,
}

const fn num(lo: f64, hi: f64, decimals: usize, unit: &'static str) -> LabValue {
    LabValue::Num {
        lo,
        hi,
        decimals,
        unit,
    }
}

/// Laboratory tests with abnormal-result generators (values are in the direction that indicates the diseases
/// of [`FACTS`]: low eGFR, high BNP, ...).
pub const LABS: &[Lab] = &[
    Lab {
        forms: &["HbA1c", "hemoglobin A1c", "A1c"],
        value: num(7.4, 11.8, 1, "%"),
    },
    Lab {
        forms: &["fasting blood glucose", "fasting glucose", "FBG"],
        value: num(132.0, 265.0, 0, "mg/dL"),
    },
    Lab {
        forms: &["troponin I", "hs-troponin", "troponin"],
        value: num(0.12, 9.5, 2, "ng/mL"),
    },
    Lab {
        forms: &["BNP", "B-type natriuretic peptide", "NT-proBNP"],
        value: num(450.0, 2400.0, 0, "pg/mL"),
    },
    Lab {
        forms: &["D-dimer"],
        value: num(1.2, 7.9, 1, "µg/mL FEU"),
    },
    Lab {
        forms: &["TSH", "thyroid-stimulating hormone"],
        value: num(8.2, 38.0, 1, "mIU/L"),
    },
    Lab {
        forms: &["serum potassium", "potassium", "K+"],
        value: num(5.8, 6.9, 1, "mmol/L"),
    },
    Lab {
        forms: &["serum sodium", "sodium", "Na"],
        value: num(119.0, 129.0, 0, "mmol/L"),
    },
    Lab {
        forms: &["serum creatinine", "creatinine", "Cr"],
        value: num(2.1, 4.8, 1, "mg/dL"),
    },
    Lab {
        forms: &["eGFR", "estimated GFR"],
        value: num(18.0, 44.0, 0, "mL/min/1.73 m²"),
    },
    Lab {
        forms: &["white blood cell count", "WBC", "leukocyte count"],
        value: num(13.1, 24.5, 1, "×10⁹/L"),
    },
    Lab {
        forms: &["hemoglobin", "Hgb", "haemoglobin"],
        value: num(6.8, 9.9, 1, "g/dL"),
    },
    Lab {
        forms: &["ferritin", "serum ferritin"],
        value: num(3.0, 12.0, 0, "ng/mL"),
    },
    Lab {
        forms: &["LDL cholesterol", "LDL-C", "LDL"],
        value: num(165.0, 240.0, 0, "mg/dL"),
    },
    Lab {
        forms: &["C-reactive protein", "CRP"],
        value: num(42.0, 180.0, 0, "mg/L"),
    },
    Lab {
        forms: &["ESR", "erythrocyte sedimentation rate"],
        value: num(45.0, 110.0, 0, "mm/h"),
    },
    Lab {
        forms: &["rheumatoid factor", "RF"],
        value: num(40.0, 320.0, 0, "IU/mL"),
    },
    Lab {
        forms: &["anti-CCP antibodies", "anti-CCP"],
        value: num(60.0, 250.0, 0, "U/mL"),
    },
    Lab {
        forms: &["anti-SSA/Ro antibodies", "anti-Ro/SSA", "anti-SSA"],
        value: LabValue::Qual(&["positive", "strongly positive"]),
    },
    Lab {
        forms: &["ANA", "antinuclear antibodies"],
        value: LabValue::Qual(&[
            "positive at 1:640",
            "positive, homogeneous pattern",
            "1:1280",
        ]),
    },
    Lab {
        forms: &["anti-dsDNA", "anti-double-stranded DNA"],
        value: num(75.0, 400.0, 0, "IU/mL"),
    },
    Lab {
        forms: &["serum uric acid", "uric acid", "urate"],
        value: num(8.4, 12.1, 1, "mg/dL"),
    },
    Lab {
        forms: &["lactate", "serum lactate"],
        value: num(4.1, 9.2, 1, "mmol/L"),
    },
    Lab {
        forms: &["ALT", "alanine aminotransferase"],
        value: num(180.0, 950.0, 0, "U/L"),
    },
    Lab {
        forms: &["urinalysis", "UA"],
        value: LabValue::Qual(&[
            "positive for nitrites and leukocyte esterase",
            "with pyuria",
            "nitrite positive",
        ]),
    },
    Lab {
        forms: &["creatine kinase", "CK", "CPK"],
        value: num(5200.0, 42000.0, 0, "U/L"),
    },
    Lab {
        forms: &["lipase", "serum lipase"],
        value: num(640.0, 3100.0, 0, "U/L"),
    },
    Lab {
        forms: &["absolute neutrophil count", "ANC"],
        value: num(0.1, 0.4, 2, "×10⁹/L"),
    },
    Lab {
        forms: &["influenza PCR", "rapid influenza test"],
        value: LabValue::Qual(&["positive", "positive for influenza A"]),
    },
    Lab {
        forms: &["procalcitonin", "PCT"],
        value: num(2.1, 18.0, 1, "ng/mL"),
    },
    Lab {
        forms: &["platelet count", "platelets", "PLT"],
        value: num(22.0, 68.0, 0, "×10⁹/L"),
    },
    Lab {
        forms: &["INR"],
        value: num(3.6, 6.4, 1, ""),
    },
    Lab {
        forms: &["fecal calprotectin", "calprotectin"],
        value: num(320.0, 1400.0, 0, "µg/g"),
    },
    Lab {
        forms: &["blood cultures", "blood culture"],
        value: LabValue::Qual(&[
            "positive for gram-positive cocci",
            "growing gram-negative rods",
        ]),
    },
];

/// A relation fact between two concepts, named by their canonical forms.
#[derive(Debug, Clone, Copy)]
pub struct Fact {
    /// Relation type.
    pub relation: RelationType,
    /// Canonical form of the head concept.
    pub head: &'static str,
    /// Canonical form of the tail concept.
    pub tail: &'static str,
}

macro_rules! facts {
    ($($rel:ident : $h:literal => $t:literal;)*) => {
        &[$(Fact { relation: RelationType::$rel, head: $h, tail: $t }),*]
    };
}

/// Curated relation facts.
pub const FACTS: &[Fact] = facts! {
    // treats: Drug -> Disease
    Treats: "metformin" => "type 2 diabetes mellitus";
    Treats: "insulin glargine" => "type 2 diabetes mellitus";
    Treats: "empagliflozin" => "type 2 diabetes mellitus";
    Treats: "empagliflozin" => "congestive heart failure";
    Treats: "lisinopril" => "hypertension";
    Treats: "ACE inhibitor" => "hypertension";
    Treats: "amlodipine" => "hypertension";
    Treats: "hydrochlorothiazide" => "hypertension";
    Treats: "metoprolol" => "atrial fibrillation";
    Treats: "metoprolol" => "hypertension";
    Treats: "β-blocker" => "atrial fibrillation";
    Treats: "β-blocker" => "coronary artery disease";
    Treats: "atorvastatin" => "hyperlipidemia";
    Treats: "simvastatin" => "hyperlipidemia";
    Treats: "furosemide" => "congestive heart failure";
    Treats: "spironolactone" => "congestive heart failure";
    Treats: "levothyroxine" => "hypothyroidism";
    Treats: "omeprazole" => "gastroesophageal reflux disease";
    Treats: "pantoprazole" => "peptic ulcer disease";
    Treats: "albuterol" => "asthma";
    Treats: "fluticasone–salmeterol" => "chronic obstructive pulmonary disease";
    Treats: "fluticasone–salmeterol" => "asthma";
    Treats: "prednisone" => "asthma";
    Treats: "methotrexate" => "rheumatoid arthritis";
    Treats: "hydroxychloroquine" => "systemic lupus erythematosus";
    Treats: "hydroxychloroquine" => "Sjögren's syndrome";
    Treats: "infliximab" => "Crohn's disease";
    Treats: "amoxicillin" => "community-acquired pneumonia";
    Treats: "azithromycin" => "community-acquired pneumonia";
    Treats: "ciprofloxacin" => "urinary tract infection";
    Treats: "trimethoprim–sulfamethoxazole" => "urinary tract infection";
    Treats: "vancomycin" => "cellulitis";
    Treats: "heparin" => "pulmonary embolism";
    Treats: "apixaban" => "deep vein thrombosis";
    Treats: "apixaban" => "pulmonary embolism";
    Treats: "enoxaparin" => "deep vein thrombosis";
    Treats: "levetiracetam" => "epilepsy";
    Treats: "carbamazepine" => "epilepsy";
    Treats: "sumatriptan" => "migraine";
    Treats: "sertraline" => "major depressive disorder";
    Treats: "colchicine" => "gout";
    Treats: "oseltamivir" => "influenza";
    Treats: "gabapentin" => "postherpetic neuralgia";
    Treats: "ferrous sulfate" => "iron deficiency anemia";
    Treats: "alendronate" => "osteoporosis";
    Treats: "intravenous immunoglobulin" => "Guillain–Barré syndrome";
    Treats: "meclizine" => "Ménière's disease";
    // causes: Disease -> Symptom
    Causes: "coronary artery disease" => "chest pain";
    Causes: "myocardial infarction" => "chest pain";
    Causes: "congestive heart failure" => "shortness of breath";
    Causes: "congestive heart failure" => "peripheral edema";
    Causes: "atrial fibrillation" => "palpitations";
    Causes: "asthma" => "wheezing";
    Causes: "chronic obstructive pulmonary disease" => "shortness of breath";
    Causes: "community-acquired pneumonia" => "cough";
    Causes: "community-acquired pneumonia" => "fever";
    Causes: "urinary tract infection" => "dysuria";
    Causes: "urinary tract infection" => "urinary frequency";
    Causes: "type 2 diabetes mellitus" => "polyuria";
    Causes: "type 2 diabetes mellitus" => "polydipsia";
    Causes: "hypothyroidism" => "fatigue";
    Causes: "hypothyroidism" => "cold intolerance";
    Causes: "gastroesophageal reflux disease" => "heartburn";
    Causes: "peptic ulcer disease" => "abdominal pain";
    Causes: "peptic ulcer disease" => "melena";
    Causes: "rheumatoid arthritis" => "joint pain";
    Causes: "rheumatoid arthritis" => "morning stiffness";
    Causes: "Sjögren's syndrome" => "dry mouth";
    Causes: "Sjögren's syndrome" => "dry eyes";
    Causes: "systemic lupus erythematosus" => "malar rash";
    Causes: "gout" => "joint pain";
    Causes: "migraine" => "headache";
    Causes: "migraine" => "photophobia";
    Causes: "major depressive disorder" => "insomnia";
    Causes: "anemia" => "fatigue";
    Causes: "iron deficiency anemia" => "fatigue";
    Causes: "influenza" => "myalgia";
    Causes: "influenza" => "fever";
    Causes: "pulmonary embolism" => "shortness of breath";
    Causes: "pulmonary embolism" => "hemoptysis";
    Causes: "deep vein thrombosis" => "calf swelling";
    Causes: "Ménière's disease" => "vertigo";
    Causes: "Ménière's disease" => "tinnitus";
    Causes: "Crohn's disease" => "diarrhea";
    Causes: "Crohn's disease" => "weight loss";
    Causes: "Guillain–Barré syndrome" => "ascending weakness";
    Causes: "epilepsy" => "seizures";
    Causes: "ischemic stroke" => "hemiparesis";
    Causes: "hyponatremia" => "confusion";
    Causes: "hypoglycemia" => "tremor";
    Causes: "sepsis" => "confusion";
    Causes: "cellulitis" => "fever";
    Causes: "acute pancreatitis" => "abdominal pain";
    Causes: "postherpetic neuralgia" => "numbness";
    // indicates: Lab_Test or Symptom -> Disease
    Indicates: "HbA1c" => "type 2 diabetes mellitus";
    Indicates: "fasting blood glucose" => "type 2 diabetes mellitus";
    Indicates: "troponin I" => "myocardial infarction";
    Indicates: "BNP" => "congestive heart failure";
    Indicates: "D-dimer" => "pulmonary embolism";
    Indicates: "D-dimer" => "deep vein thrombosis";
    Indicates: "TSH" => "hypothyroidism";
    Indicates: "serum potassium" => "hyperkalemia";
    Indicates: "serum sodium" => "hyponatremia";
    Indicates: "serum creatinine" => "acute kidney injury";
    Indicates: "eGFR" => "chronic kidney disease";
    Indicates: "white blood cell count" => "community-acquired pneumonia";
    Indicates: "white blood cell count" => "sepsis";
    Indicates: "hemoglobin" => "anemia";
    Indicates: "ferritin" => "iron deficiency anemia";
    Indicates: "LDL cholesterol" => "hyperlipidemia";
    Indicates: "C-reactive protein" => "community-acquired pneumonia";
    Indicates: "rheumatoid factor" => "rheumatoid arthritis";
    Indicates: "anti-CCP antibodies" => "rheumatoid arthritis";
    Indicates: "anti-SSA/Ro antibodies" => "Sjögren's syndrome";
    Indicates: "ANA" => "systemic lupus erythematosus";
    Indicates: "anti-dsDNA" => "systemic lupus erythematosus";
    Indicates: "serum uric acid" => "gout";
    Indicates: "lactate" => "sepsis";
    Indicates: "procalcitonin" => "sepsis";
    Indicates: "blood cultures" => "sepsis";
    Indicates: "ALT" => "drug-induced liver injury";
    Indicates: "urinalysis" => "urinary tract infection";
    Indicates: "creatine kinase" => "rhabdomyolysis";
    Indicates: "lipase" => "acute pancreatitis";
    Indicates: "absolute neutrophil count" => "agranulocytosis";
    Indicates: "influenza PCR" => "influenza";
    Indicates: "platelet count" => "heparin-induced thrombocytopenia";
    Indicates: "fecal calprotectin" => "Crohn's disease";
    Indicates: "ESR" => "rheumatoid arthritis";
    Indicates: "chest pain" => "myocardial infarction";
    Indicates: "polyuria" => "type 2 diabetes mellitus";
    Indicates: "dry eyes" => "Sjögren's syndrome";
    Indicates: "wheezing" => "asthma";
    Indicates: "hemoptysis" => "pulmonary embolism";
    Indicates: "calf swelling" => "deep vein thrombosis";
    Indicates: "dysuria" => "urinary tract infection";
    Indicates: "photophobia" => "migraine";
    Indicates: "morning stiffness" => "rheumatoid arthritis";
    Indicates: "cold intolerance" => "hypothyroidism";
    Indicates: "tinnitus" => "Ménière's disease";
    Indicates: "heartburn" => "gastroesophageal reflux disease";
    Indicates: "melena" => "gastrointestinal bleeding";
    Indicates: "malar rash" => "systemic lupus erythematosus";
    Indicates: "ascending weakness" => "Guillain–Barré syndrome";
    // prevents: Drug or Procedure -> Disease
    Prevents: "aspirin" => "myocardial infarction";
    Prevents: "aspirin" => "ischemic stroke";
    Prevents: "clopidogrel" => "myocardial infarction";
    Prevents: "atorvastatin" => "myocardial infarction";
    Prevents: "atorvastatin" => "ischemic stroke";
    Prevents: "warfarin" => "ischemic stroke";
    Prevents: "apixaban" => "ischemic stroke";
    Prevents: "enoxaparin" => "deep vein thrombosis";
    Prevents: "heparin" => "deep vein thrombosis";
    Prevents: "trimethoprim–sulfamethoxazole" => "Pneumocystis pneumonia";
    Prevents: "pantoprazole" => "gastrointestinal bleeding";
    Prevents: "omeprazole" => "gastrointestinal bleeding";
    Prevents: "allopurinol" => "gout";
    Prevents: "propranolol" => "migraine";
    Prevents: "alendronate" => "hip fracture";
    Prevents: "oseltamivir" => "influenza";
    Prevents: "metformin" => "type 2 diabetes mellitus";
    Prevents: "influenza vaccination" => "influenza";
    Prevents: "pneumococcal vaccination" => "community-acquired pneumonia";
    Prevents: "colonoscopy" => "colorectal cancer";
    Prevents: "IVC filter placement" => "pulmonary embolism";
    Prevents: "carotid endarterectomy" => "ischemic stroke";
    Prevents: "left atrial appendage occlusion" => "ischemic stroke";
    Prevents: "percutaneous coronary intervention" => "myocardial infarction";
    // adverse_effect: Drug -> Disease or Symptom
    AdverseEffect: "lisinopril" => "dry cough";
    AdverseEffect: "lisinopril" => "angioedema";
    AdverseEffect: "ACE inhibitor" => "angioedema";
    AdverseEffect: "ACE inhibitor" => "dry cough";
    AdverseEffect: "metformin" => "lactic acidosis";
    AdverseEffect: "metformin" => "diarrhea";
    AdverseEffect: "atorvastatin" => "myalgia";
    AdverseEffect: "simvastatin" => "rhabdomyolysis";
    AdverseEffect: "simvastatin" => "myalgia";
    AdverseEffect: "warfarin" => "gastrointestinal bleeding";
    AdverseEffect: "apixaban" => "gastrointestinal bleeding";
    AdverseEffect: "aspirin" => "gastrointestinal bleeding";
    AdverseEffect: "clopidogrel" => "easy bruising";
    AdverseEffect: "furosemide" => "hypokalemia";
    AdverseEffect: "hydrochlorothiazide" => "hyponatremia";
    AdverseEffect: "spironolactone" => "hyperkalemia";
    AdverseEffect: "trimethoprim–sulfamethoxazole" => "hyperkalemia";
    AdverseEffect: "trimethoprim–sulfamethoxazole" => "Stevens–Johnson syndrome";
    AdverseEffect: "carbamazepine" => "Stevens–Johnson syndrome";
    AdverseEffect: "allopurinol" => "Stevens–Johnson syndrome";
    AdverseEffect: "insulin glargine" => "hypoglycemia";
    AdverseEffect: "amlodipine" => "peripheral edema";
    AdverseEffect: "metoprolol" => "fatigue";
    AdverseEffect: "β-blocker" => "fatigue";
    AdverseEffect: "methotrexate" => "drug-induced liver injury";
    AdverseEffect: "acetaminophen" => "drug-induced liver injury";
    AdverseEffect: "amoxicillin" => "rash";
    AdverseEffect: "ciprofloxacin" => "Achilles tendon rupture";
    AdverseEffect: "vancomycin" => "acute kidney injury";
    AdverseEffect: "ibuprofen" => "acute kidney injury";
    AdverseEffect: "ibuprofen" => "peptic ulcer disease";
    AdverseEffect: "morphine" => "constipation";
    AdverseEffect: "morphine" => "nausea";
    AdverseEffect: "gabapentin" => "dizziness";
    AdverseEffect: "sertraline" => "nausea";
    AdverseEffect: "sertraline" => "insomnia";
    AdverseEffect: "levothyroxine" => "palpitations";
    AdverseEffect: "prednisone" => "hyperglycemia";
    AdverseEffect: "hydroxychloroquine" => "retinal toxicity";
    AdverseEffect: "colchicine" => "diarrhea";
    AdverseEffect: "empagliflozin" => "urinary tract infection";
    AdverseEffect: "levetiracetam" => "irritability";
    AdverseEffect: "clozapine" => "agranulocytosis";
    AdverseEffect: "heparin" => "heparin-induced thrombocytopenia";
    AdverseEffect: "sumatriptan" => "chest pain";
};

/// The concept lists of one entity type (labs as their forms).
pub fn concepts(t: EntityType) -> Vec<Forms> {
    match t {
        EntityType::Disease => DISEASES.to_vec(),
        EntityType::Symptom => SYMPTOMS.to_vec(),
        EntityType::Drug => DRUGS.to_vec(),
        EntityType::Procedure => PROCEDURES.to_vec(),
        EntityType::LabTest => LABS.iter().map(|l| l.forms).collect(),
    }
}

/// The type and forms of the concept whose canonical form is `canonical`.
pub fn lookup(canonical: &str) -> Option<(EntityType, Forms)> {
    EntityType::ALL.into_iter().find_map(|t| {
        concepts(t)
            .into_iter()
            .find(|f| f[0] == canonical)
            .map(|f| (t, f))
    })
}

/// The lab whose canonical form is `canonical`.
pub fn lab(canonical: &str) -> Option<&'static Lab> {
    LABS.iter().find(|l| l.forms[0] == canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ner_vocab_facts_obey_type_rules() {
        let mut seen = HashSet::new();
        for f in FACTS {
            let (h, _) = lookup(f.head).unwrap_or_else(|| panic!("unknown head {:?}", f.head));
            let (t, _) = lookup(f.tail).unwrap_or_else(|| panic!("unknown tail {:?}", f.tail));
            assert!(f.relation.allows(h, t), "{f:?}: {h} -> {t}");
            assert!(seen.insert((f.relation, f.head, f.tail)), "duplicate {f:?}");
        }
        for r in RelationType::ALL {
            assert!(
                FACTS.iter().filter(|f| f.relation == r).count() >= 20,
                "{r}"
            );
        }
    }

    #[test]
    fn ner_vocab_forms_are_unique_and_sized() {
        let mut seen = HashSet::new();
        for t in EntityType::ALL {
            let c = concepts(t);
            assert!(c.len() >= 30, "{t}: {}", c.len());
            for forms in c {
                assert!(!forms.is_empty());
                for f in forms {
                    assert!(!f.is_empty() && f.trim() == *f);
                    assert!(seen.insert(*f), "form {f:?} used twice");
                }
            }
        }
        for l in LABS {
            if let LabValue::Num { lo, hi, .. } = l.value {
                assert!(lo < hi, "{:?}", l.forms);
            }
        }
    }
}
