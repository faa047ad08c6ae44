# Emission orders and idempotency, in Russian.
error-order-bad-gtin = Неверный GTIN: { $detail }
error-order-bad-quantity = Количество кодов должно быть от 1 до { $max } (указано: { $quantity }).
error-order-bad-release-method = Способ выпуска в оборот должен быть «production» (производство) или «import» (импорт).
error-order-unknown-gtin = GTIN { $gtin } не зарегистрирован в каталоге товаров.
error-order-foreign-gtin = GTIN { $gtin } принадлежит другому участнику: заказывать на него коды нельзя.
error-order-bad-page = Номер страницы начинается с 0, размер страницы от 1 до { $max }.
error-idempotency-key-required = Нужен заголовок Idempotency-Key: он гарантирует, что повтор запроса не выполнит его дважды.
error-idempotency-key-invalid = Idempotency-Key должен состоять не более чем из { $max } печатных символов ASCII.
error-idempotency-key-reused = Этот Idempotency-Key уже использован для другого запроса. Для нового запроса укажите новый ключ.
