//! The Gemini generateContent wire format (AI Studio and Vertex AI): request translation,
//! answer and stream decoding, tool-schema cleaning and error bodies.
