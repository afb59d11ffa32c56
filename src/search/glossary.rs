//! A small English ↔ Korean glossary of research terms, for lexical query expansion.
//!
//! Digest summaries are Korean with some English terms; titles and many queries are English.
//! Measured on the archive, the title word usually reappears in the paper's own summary only in
//! Korean (`generation` in English in 18 % of such summaries, `생성` in 94 %; `editing` 16 % vs
//! `편집` 96 %), so a query term is also searched under its usual translations, and a Korean
//! query term under its English forms. Entries are the frequent title words of the archive.

use std::collections::HashMap;
use std::sync::OnceLock;

/// English term → Korean renderings, as written in the summaries.
const PAIRS: &[(&str, &[&str])] = &[
    ("language", &["언어"]),
    ("large", &["대형", "대규모"]),
    ("generation", &["생성"]),
    ("generative", &["생성"]),
    ("generating", &["생성"]),
    ("generate", &["생성"]),
    ("diffusion", &["확산"]),
    ("model", &["모델"]),
    ("video", &["비디오", "동영상", "영상"]),
    ("image", &["이미지"]),
    ("text", &["텍스트"]),
    ("multimodal", &["멀티모달", "다중모달"]),
    ("learning", &["학습"]),
    ("efficient", &["효율"]),
    ("efficiency", &["효율"]),
    ("vision", &["비전", "시각"]),
    ("visual", &["시각"]),
    ("training", &["훈련", "학습"]),
    ("reasoning", &["추론"]),
    ("data", &["데이터"]),
    ("understanding", &["이해"]),
    ("long", &["긴", "장기"]),
    ("context", &["컨텍스트", "문맥"]),
    ("scaling", &["스케일링", "확장"]),
    ("scalable", &["확장"]),
    ("human", &["인간", "사람"]),
    ("open", &["오픈", "공개"]),
    ("benchmark", &["벤치마크"]),
    ("benchmarking", &["벤치마크"]),
    ("time", &["시간"]),
    ("tuning", &["튜닝", "조정"]),
    ("alignment", &["정렬"]),
    ("editing", &["편집"]),
    ("dataset", &["데이터셋"]),
    ("agent", &["에이전트"]),
    ("synthesis", &["합성"]),
    ("synthetic", &["합성"]),
    ("attention", &["어텐션", "주의"]),
    ("knowledge", &["지식"]),
    ("world", &["세계", "월드"]),
    ("evaluation", &["평가"]),
    ("evaluating", &["평가"]),
    ("assessment", &["평가"]),
    ("code", &["코드"]),
    ("transformer", &["트랜스포머"]),
    ("retrieval", &["검색"]),
    ("search", &["검색", "탐색"]),
    ("optimization", &["최적화"]),
    ("modeling", &["모델링"]),
    ("view", &["뷰", "시점"]),
    ("framework", &["프레임워크"]),
    ("inference", &["추론"]),
    ("instruction", &["지시", "명령"]),
    ("preference", &["선호"]),
    ("quality", &["품질"]),
    ("audio", &["오디오"]),
    ("memory", &["메모리"]),
    ("object", &["객체", "물체"]),
    ("motion", &["모션", "움직임", "동작"]),
    ("control", &["제어"]),
    ("controllable", &["제어"]),
    ("reconstruction", &["재구성", "복원"]),
    ("speech", &["음성"]),
    ("voice", &["음성"]),
    ("distillation", &["증류"]),
    ("reinforcement", &["강화"]),
    ("reward", &["보상"]),
    ("scene", &["장면"]),
    ("survey", &["서베이", "조사"]),
    ("detection", &["탐지", "검출"]),
    ("mathematical", &["수학"]),
    ("math", &["수학"]),
    ("music", &["음악"]),
    ("medical", &["의료"]),
    ("depth", &["깊이"]),
    ("safety", &["안전"]),
    ("safe", &["안전"]),
    ("segmentation", &["분할"]),
    ("compression", &["압축"]),
    ("robot", &["로봇"]),
    ("robotic", &["로봇"]),
    ("translation", &["번역"]),
    ("question", &["질문", "질의"]),
    ("answering", &["응답", "답변"]),
    ("graph", &["그래프"]),
    ("planning", &["계획"]),
    ("document", &["문서"]),
    ("quantization", &["양자화"]),
    ("animation", &["애니메이션"]),
    ("style", &["스타일"]),
    ("personalized", &["개인화", "맞춤"]),
    ("personalization", &["개인화"]),
    ("rendering", &["렌더링"]),
    ("expert", &["전문가"]),
    ("mixture", &["혼합"]),
    ("token", &["토큰"]),
    ("multilingual", &["다국어"]),
    ("feedback", &["피드백"]),
    ("web", &["웹"]),
    ("prompt", &["프롬프트"]),
    ("prompting", &["프롬프트"]),
    ("thought", &["사고"]),
    ("temporal", &["시간"]),
    ("spatial", &["공간"]),
    ("semantic", &["의미"]),
    ("sparse", &["희소"]),
    ("embedding", &["임베딩"]),
    ("hallucination", &["환각"]),
    ("gaussian", &["가우시안"]),
    ("game", &["게임"]),
    ("face", &["얼굴"]),
    ("facial", &["얼굴"]),
    ("avatar", &["아바타"]),
    ("camera", &["카메라"]),
    ("pose", &["포즈", "자세"]),
    ("estimation", &["추정"]),
    ("prediction", &["예측"]),
    ("representation", &["표현"]),
    ("layer", &["레이어", "계층"]),
    ("architecture", &["아키텍처"]),
    ("system", &["시스템"]),
    ("tool", &["도구"]),
    ("user", &["사용자"]),
    ("interaction", &["상호작용"]),
    ("interactive", &["상호작용", "대화형"]),
    ("dialogue", &["대화"]),
    ("conversation", &["대화"]),
    ("emotion", &["감정"]),
    ("sound", &["소리", "사운드"]),
    ("caption", &["캡션"]),
    ("captioning", &["캡션"]),
    ("chart", &["차트"]),
    ("decoding", &["디코딩"]),
    ("encoder", &["인코더"]),
    ("decoder", &["디코더"]),
    ("autoregressive", &["자기회귀", "자동회귀"]),
    ("latent", &["잠재"]),
    ("consistency", &["일관성"]),
    ("consistent", &["일관성"]),
    ("resolution", &["해상도"]),
    ("dynamic", &["동적"]),
    ("adaptive", &["적응"]),
    ("adaptation", &["적응"]),
    ("transfer", &["전이"]),
    ("domain", &["도메인"]),
    ("action", &["행동", "동작"]),
    ("manipulation", &["조작"]),
    ("navigation", &["내비게이션"]),
    ("driving", &["주행"]),
    ("autonomous", &["자율"]),
    ("simulation", &["시뮬레이션"]),
    ("physics", &["물리"]),
    ("physical", &["물리"]),
    ("privacy", &["프라이버시", "개인정보"]),
    ("attack", &["공격"]),
    ("jailbreak", &["탈옥"]),
    ("watermark", &["워터마크"]),
    ("watermarking", &["워터마크"]),
    ("geometry", &["기하학"]),
    ("surface", &["표면"]),
    ("texture", &["텍스처"]),
    ("material", &["재료", "재질"]),
    ("lighting", &["조명"]),
    ("relighting", &["조명"]),
    ("mobile", &["모바일"]),
    ("unified", &["통합"]),
    ("universal", &["범용"]),
    ("generalist", &["범용"]),
    ("robust", &["견고"]),
    ("accelerating", &["가속"]),
    ("acceleration", &["가속"]),
    ("parameter", &["매개변수", "파라미터"]),
    ("zero-shot", &["제로샷"]),
    ("few-shot", &["퓨샷"]),
    ("unsupervised", &["비지도"]),
    ("analysis", &["분석"]),
    ("verification", &["검증"]),
    ("verifier", &["검증"]),
    ("structured", &["구조화"]),
    ("sequence", &["시퀀스"]),
    ("noise", &["노이즈"]),
    ("denoising", &["노이즈"]),
    ("sampling", &["샘플링"]),
    ("point", &["포인트"]),
    ("mesh", &["메쉬", "메시"]),
    ("shape", &["형상", "모양"]),
    ("body", &["신체"]),
    ("hand", &["손"]),
    ("dance", &["댄스", "춤"]),
    ("story", &["스토리", "이야기"]),
    ("creative", &["창의"]),
    ("writing", &["글쓰기"]),
    ("summarization", &["요약"]),
    ("recommendation", &["추천"]),
    ("classification", &["분류"]),
    ("recognition", &["인식"]),
    ("perception", &["인식", "지각"]),
    ("tracking", &["추적"]),
    ("fidelity", &["충실도"]),
    ("cost", &["비용"]),
    ("korean", &["한국어"]),
    ("chinese", &["중국어"]),
    ("english", &["영어"]),
    ("bias", &["편향"]),
    ("fairness", &["공정성"]),
    ("trust", &["신뢰"]),
    ("trustworthy", &["신뢰"]),
    ("uncertainty", &["불확실성"]),
    ("calibration", &["보정"]),
    ("explanation", &["설명"]),
    ("interpretability", &["해석"]),
    ("circuit", &["회로"]),
    ("neuron", &["뉴런"]),
    ("science", &["과학"]),
    ("scientific", &["과학"]),
    ("chemistry", &["화학"]),
    ("molecule", &["분자"]),
    ("molecular", &["분자"]),
    ("protein", &["단백질"]),
    ("legal", &["법률"]),
    ("financial", &["금융"]),
    ("education", &["교육"]),
    ("clinical", &["임상"]),
    ("weather", &["날씨"]),
    ("satellite", &["위성"]),
];

/// Token → its translations (both directions), as tokens of [`super::lexical::tokenize`].
fn table() -> &'static HashMap<String, Vec<String>> {
    static TABLE: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: HashMap<String, Vec<String>> = HashMap::new();
        let mut add = |from: &str, to: &str| {
            let e = t.entry(from.to_string()).or_default();
            if !e.iter().any(|x| x == to) {
                e.push(to.to_string());
            }
        };
        for (en, kos) in PAIRS {
            // Keys and values go through the tokenizer so they match what documents produce.
            let Some(en) = super::lexical::tokenize(en).into_iter().next() else {
                continue;
            };
            for ko in *kos {
                for k in super::lexical::tokenize(ko) {
                    add(&en, &k);
                    add(&k, &en);
                }
            }
        }
        t
    })
}

/// Translations of one token (empty when the glossary has none).
pub fn translations(token: &str) -> &'static [String] {
    table().get(token).map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_and_tokenized_forms() {
        assert!(translations("video").iter().any(|t| t == "비디오"));
        assert!(translations("비디오").iter().any(|t| t == "video"));
        assert!(translations("생성").iter().any(|t| t == "generation"));
        assert!(translations("zero-shot").iter().any(|t| t == "제로샷"));
        assert!(translations("nonexistent").is_empty());
    }
}
