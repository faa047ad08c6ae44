# Таңбалау кодын талдау қателерінің хабарлары (tanba-core, gs1::ParseError).
# Кілт: code-error- + қатенің машиналық коды, онда _ таңбасы - таңбасына ауыстырылған.
# Айнымалылар ParseError::args() функциясынан келеді. Позициялар нөлден бастап саналады.

code-error-empty = Код бос: сканер ештеңе бермеді.
code-error-too-long = Енгізілген мәтін тым ұзын: { $length } таңба, ал GS1 DataMatrix символына ең көбі { $max } таңба сыяды.
code-error-unsupported-symbology = { $symbology } символика идентификаторы символда GS1 деректері жоқ екенін білдіреді.
code-error-expected-ai = { $position }-позиция: GS1 қолдану идентификаторы (цифрлар) күтілген еді, бірақ { $char } таңбасы табылды.
code-error-unknown-ai = { $position }-позиция: { $ai } — белгісіз GS1 қолдану идентификаторы.
code-error-bad-length = AI { $ai }, { $position }-позиция: деректер ұзындығы қате — { $length }, күтілгені { $expected }.
code-error-bad-character =
    AI { $ai }, { $field_position }-позициядан басталатын өріс: { $position }-позициядағы { $char } таңбасы { $charset ->
        [digits] цифр емес
       *[other] GS1 82 таңбалар жиынына кірмейді
    }.
code-error-bad-check-digit = AI { $ai }, { $position }-позиция: бақылау цифры { $found } қате, { $expected } болуы керек.
code-error-bad-date = AI { $ai }, { $position }-позиция: «{ $date }» ЖЖААКК пішіміндегі нақты күн емес.
code-error-bad-serial-length = AI { $ai }, { $position }-позиция: Tanba сериялық нөмірі дәл { $expected } таңбадан тұруы керек, ал мұнда { $length }.
code-error-bad-key-id-length = AI { $ai }, { $position }-позиция: кілт идентификаторы дәл { $expected } таңбадан тұруы керек, ал мұнда { $length }.
code-error-missing-gtin = Кодта GTIN (AI 01) жоқ: тауар бірлігінің кодында GTIN мен сериялық нөмір, көлік қаптамасының кодында SSCC (AI 00) болады.
code-error-missing-serial = Кодта GTIN-нен кейін сериялық нөмір (AI 21) жоқ.
code-error-duplicate-ai = { $position }-позициядағы AI { $ai } қайталанады (алғаш рет { $first_position }-позицияда кездескен).
code-error-conflicting-ai = { $position }-позициядағы AI { $ai } AI { $other_ai } бар кодта тұра алмайды.
code-error-bad-human-readable = { $position }-позиция: «(» жақшасы, қолдану идентификаторының 2–4 цифры және «)» жақшасы күтілген еді.
code-error-bad-digital-link =
    { $position }-позиция: GS1 Digital Link сілтемесі қате: { $reason ->
        [not_a_url] бұл URL емес
        [path] жол /01/<GTIN>/21/<сериялық нөмір> немесе /00/<SSCC> түрінде аяқталмайды
        [key_in_query] кілт не кілттің нақтылауышы сұрау параметрлерінде емес, жолда тұруы керек
       *[encoding] пайыздық кодтау қате
    }.
code-error-not-a-unit-code = Бұл тауар бірлігінің коды емес, көлік қаптамасының SSCC коды (AI 00).
